"""Recipe texts the kitchen-sense tests share (API, CLI, page): one sound, two of issue 25's unsafe or non-recipes."""

SOUND_CHICKEN_RICE = """# Chicken Rice

## Ingredients
- 1 lb chicken thighs
- 1 cup rice
- 2 cups water

## Directions
1. Simmer the rice in the water for 15 minutes.
2. Roast the chicken at 200 °C for 35 minutes, until it reaches 74 °C inside.
3. Serve the chicken on the rice."""

# The tuned quickstart model's answers of issue 25: raw eggs and chicken "salad" never cooked ...
RAW_CHICKEN_SALAD = """# Chicken Salad

## Ingredients
- 1 lb raw chicken breast
- 200 g eggs
- 100 g feta

## Directions
1. Dice the raw chicken breast.
2. Whisk the eggs with the feta and toss with the chicken.
3. Chill for 1 hour and serve."""

# ... and sixty ingredient lines of "- 10 g" (no ingredient names at all)
TEN_GRAMS = "# Salad\n\n## Ingredients\n" + "- 10 g\n" * 60 + "\n## Directions\n1. Mix everything and serve."
