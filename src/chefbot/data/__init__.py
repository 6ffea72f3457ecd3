"""chefbot.data"""
