"""noveltygym's language layer: cluster descriptions, fine-tuning data, a language model trained
here, free and constrained generation, and the precomputed transition table (paper §3).

Modules, each with one job:
    prompts        the one prompt template
    descriptions   validating a level's descriptions
    data           logged interactions -> balanced (history, target) fine-tuning data
    tokenization   prompt/answer token ids; the embedded word-level tokenizer
    models         building, loading (incl. "smollm2"), saving and hashing models
    training       pretraining and fine-tuning loops (plain torch)
    trie, decoding the answer trie and the KV-cached decoding engine
    generation     ClusterLM: free and constrained generation for one level
    evaluation     exact match, novelty, hit rate, diversity; the few-shot baseline
    table          the M^L transition table: build (resumable), load, O(1) lookup, lazy mode
    pipeline       one-call default model training for the experiments layer
    cli            `python -m llm {data,train,evaluate,table}`

Heavy imports (torch, transformers) happen when those modules are imported, not here.
"""
