"""Cooking knowledge shared by every stage: how long steps take, what equipment they use,
and the tasks a recipe's directions break into.

It sits with the foundations (it imports nothing above ``recipe_format``) because the data
stage labels recipes with the same duration model the meal planner schedules with.
"""
