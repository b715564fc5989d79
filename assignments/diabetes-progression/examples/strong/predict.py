"""Entry point: python predict.py (the grader's default command when there is no takehome.toml)."""

from progression_model.predict import main

if __name__ == "__main__":
    main()
