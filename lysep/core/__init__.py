"""The solver's mathematics: models, objectives and the certificate, Lipschitz bounds, weight schedules, block
solvers, the alternating sweep (full batch and minibatch), update rules, batching and cost accounting.

Tensors in, tensors out, batched over seeds. This layer imports nothing else of lysep (docs/architecture.md).
"""
