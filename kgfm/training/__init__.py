"""One training toolkit for the three training stages (graph encoder, pretraining, QA fine-tuning).

It sits below every stage and imports none of them: :mod:`.settings` (the shared config
vocabulary ``RunSettings``/``OptimSettings`` and the old-key errors), :mod:`.optim` (parameter
groups, optimizer, LR schedule), :mod:`.checkpoint` (one checkpoint format: ``weights.safetensors``
+ ``optimizer.safetensors`` + ``state.json``), :mod:`.loop` (device/threads/seed, time budget,
early stopping, progress state) and :mod:`.report` (atomic metrics JSON, curve plot, TensorBoard,
end-of-stage summary). Each stage keeps only its batch, step and evaluation functions.
"""
