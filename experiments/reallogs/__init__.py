"""Real interaction logs (MovieLens) through the language layer, and the simulator against them.

Modules, each with one job:
    loader      MovieLens-format folders (ml-latest-small, ml-100k, ml-1m) -> ratings, movies, tags
    clusters    interest clusters with descriptions in words: genre, genre combination, SVD k-means
    methods     next-novel-cluster predictors as scores: random, most popular, Markov, language models
    evaluation  held-out users: top-1/top-10 hit rate, exact match, Bayes bound, bootstrap intervals
    calibration the figures that shape exploration, for real logs and simulated ones
    study       ``noveltygym real movielens``: all of it into one run folder

The embedded data is GroupLens' ml-latest-small (``experiments/data/ml-latest-small``, with its
README and licence: research use, acknowledge it, redistribute only under the same terms).
"""
