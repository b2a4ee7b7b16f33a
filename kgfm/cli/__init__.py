"""The ``kgfm`` command line. Each command lives in its own module and imports heavy
libraries (torch, transformers, faiss, the stores) inside the function, so ``kgfm --help``
stays instant."""
