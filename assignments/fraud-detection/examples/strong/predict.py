"""Entry point used by the grader (see takehome.toml): python predict.py."""

from fraud_model.predict import main

if __name__ == "__main__":
    main()
