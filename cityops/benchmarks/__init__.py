"""Benchmarks that start real pieces of the stack and print their figures."""
