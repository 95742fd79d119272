"""City vital signs: indicators from the catalogue in rules/indicators, computed over the
register and the alarm log, coloured by their thresholds and summarised as scores."""
