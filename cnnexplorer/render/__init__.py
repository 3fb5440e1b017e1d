"""Rich renderers of the core's results, shared by the CLI and the app: ``summary`` (one
analysis), ``diff`` (two aligned analyses), ``overview`` (the zoo) and ``kernels`` (the
stacked-kernel comparison)."""
