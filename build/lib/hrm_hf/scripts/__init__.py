"""The `hrm` command line: one thin module per sub-command over the library in `hrm_hf.data`, `hrm_hf.training` and
`hrm_hf.evaluation`."""
