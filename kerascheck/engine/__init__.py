"""Discovery, reading, linting, suppression, caching and parallel runs. Knows no rule."""
