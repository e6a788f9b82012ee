"""The Kaggle backend: runs the generated bootstrap as a private script kernel on Kaggle.

The backend (:class:`~orchestrator.backends.kaggle.backend.KaggleBackend`, registered as
``orchestrator.backends.kaggle.backend:KaggleBackend``) is built from one module per concern:

- :mod:`.connection`: credentials and the ``kaggle`` client (imported lazily, there only);
- :mod:`.http`: timeouts, retries and our own HTTP (``httpx``: output downloads, the log stream);
- :mod:`.logformat`: Kaggle's log format (SSE events, the persisted log, version labels);
- :mod:`.logs`: the live log stream; :mod:`.outputs`: verified output downloads;
- :mod:`.state`: what the backend remembers per kernel, and Kaggle's status words;
- :mod:`.errors`: the backend's errors and the translation of HTTP failures into them.

Importing this package imports nothing (neither ``kaggle`` nor ``httpx``).
"""
