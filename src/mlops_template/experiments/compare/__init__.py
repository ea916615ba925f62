"""`mlops-template compare`: models side by side on the same rows, and what each input is worth.

refs (what a REF names, and its served artifact), scoring (each model's probabilities through its
artifact), scoreboard (metrics, paired differences, slices, disagreements, curves), ablation (one
retrain per input left out), charts (inline SVG), render (Markdown and HTML), command (the CLI).
"""
