"""chefbot.train"""
