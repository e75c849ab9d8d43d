"""Evaluators: small classifiers the project trains itself, to measure generated samples."""
