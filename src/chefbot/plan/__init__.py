"""chefbot.plan"""
