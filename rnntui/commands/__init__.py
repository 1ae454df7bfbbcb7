"""The rnntui subcommands beyond the app and ``train``: each module's ``main(argv)`` returns an exit status.

They share the flags, the session factory and the error handling of rnntui.cli.
"""
