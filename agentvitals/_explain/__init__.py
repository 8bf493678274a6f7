"""Explain a task: its critical path, the time independent calls run one after another could save, findings
with suggestions, and its errors by class.

One analysis (:mod:`._analysis`) over a neutral span record (:mod:`._records`), fed two ways: in-process, by the
accounting processor, which keeps a bounded summary of each task's spans and analyses it when the task ends
(:mod:`._summary`: results on the task span and in metrics); and offline, by ``agentvitals explain``, from an
OTLP JSON file or Tempo (:mod:`._otlp`, :mod:`._tempo`), drawn as a waterfall (:mod:`._render`).
"""
