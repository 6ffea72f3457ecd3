"""chefbot.serve"""
