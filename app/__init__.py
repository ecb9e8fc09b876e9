"""The web app of `hrm app`: a Gradio page that solves a puzzle with a model and shows how its answer formed.

`solving` does the work without the web (load the model once, solve a puzzle given as text, draw the answer, draw a
held-out puzzle), through the project's own pipeline, pictures and rule checks; `page` lays it out with Gradio and
serves it; `space` writes (and pushes) a Hugging Face Space that runs the same page. Gradio is an extra
(`pip install "hrm-hf[app]"`), imported only by `page`.

This layer sits beside `scripts/`, above `evaluation/`: the `hrm app` command and a Space's `app.py` both call
`page.serve`.
"""
