"""Graders: one module per grader, registered through the ``takehome.graders`` entry points."""
