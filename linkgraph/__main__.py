"""``python -m linkgraph`` is the ``linkgraph`` console script."""

from linkgraph.cli import main

if __name__ == "__main__":
    main()
