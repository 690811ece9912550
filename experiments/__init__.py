"""noveltygym's experiments: typed configs, the command line, runs, sweeps, reports, demos."""
