"""Tests of the push delivery primitives."""
