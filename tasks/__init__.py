"""The steps of veilflow's flows: plain typed functions, plus their Prefect wrappers in `veilflow.flows.prefect_tasks`."""
