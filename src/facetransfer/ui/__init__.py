"""`facetransfer ui`: a local web app that starts swaps, queues them, and shows their training.

The app runs each swap as `facetransfer swap ... --config WORK/ui/swap.toml` in a worker process, in
the same work folder layout as the command line, so either can resume what the other started. The
modules: `config.py` (the command's options), `forms.py` (the swap form, from the option
declarations), `files.py` (allowed roots, the file browser, uploads), `jobs.py` (what a work folder
says about its swap), `runner.py` (the queue and the worker processes), `app.py` (the HTTP routes),
`static/` (the page). Only `app.py` imports the web framework, and only the `ui` command imports it.
"""
