"""chefbot.evaluate"""
