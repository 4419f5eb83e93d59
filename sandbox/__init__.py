"""Emulated Microsoft 365 and Salesforce for tests, benchmarks and the demo.

Imports nothing from the product: the product only knows the sandbox's URLs.
"""
