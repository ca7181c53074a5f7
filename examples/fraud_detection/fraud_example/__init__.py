"""The fraud-detection walk-through on featurestore: data -> features -> train -> detect -> debug.

Each step is a module with a ``main()`` (run as ``python -m fraud_example.<step>``) over
functions that take a :class:`featurestore.FeatureStore`, so tests call the same code.
"""
