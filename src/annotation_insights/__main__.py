"""`python -m annotation_insights`: the same command as the `annotation-insights` script."""

from annotation_insights.cli.main import main

if __name__ == "__main__":
    main()
