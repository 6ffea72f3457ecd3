"""The meal planner: recipe directions -> tasks -> a CP-SAT schedule for the cooks and the kitchen."""
