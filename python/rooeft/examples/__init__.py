"""The example model that ships with rooeft, and the demo built on it.

- :mod:`rooeft.examples.zh`: pp → Zh → ℓℓbb with three Wilson coefficients, an exact per-event
  ratio (the truth every learned analysis is compared with), the generator behind
  ``rooeft generate`` and the shipped pseudo-data in ``data/zh``;
- :mod:`rooeft.examples.demo`: ``rooeft demo``, the main job end to end on that example.

Nothing in the library (``rooeft.workspace``, ``rooeft.infer``, ``rooeft.nn``, …) imports this
package; it is a client of the library like a user's analysis.
"""
