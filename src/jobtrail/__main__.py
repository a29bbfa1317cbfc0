"""``python -m jobtrail``: the ``jobtrail`` command line."""

from jobtrail.cli.main import main

if __name__ == "__main__":
    main()
