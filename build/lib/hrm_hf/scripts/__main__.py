"""`python -m hrm_hf.scripts <sub-command>`: the `hrm` command in module form, for `accelerate launch -m`."""

from .cli import main


main()
