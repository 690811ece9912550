"""noveltygym's language layer: cluster descriptions, fine-tuning data, a language model trained
here, free and constrained generation, and the precomputed transition table (paper §3).

Modules, each with one job:
    prompts        the one prompt template
    config         typed settings (ModelConfig, DataConfig, TrainConfig, GenerationConfig, LLMConfig)
    errors         typed errors (extending envs.errors)
    descriptions   validating a level's descriptions
    histories      history arrays: validation and the table's mixed-radix index
    data           logged interactions -> balanced (history, target) fine-tuning data
    tokenization   prompt/answer token ids; the embedded word-level tokenizer
    models         building, loading (incl. "smollm2"), saving and hashing models
    training       pretraining and fine-tuning loops (plain torch)
    trie, decoding the answer trie and the KV-cached decoding engine
    logits_processor  the same trie as a transformers LogitsProcessor (stock `generate`)
    generation     ClusterLM: free and constrained generation for one level
    matching       generated text -> cluster, with the unmatched policy (drop / nearest)
    evaluation     exact match, novelty, hit rate, diversity; the few-shot baseline
    table          the M^L transition table: build (resumable), load, O(1) lookup, lazy mode
    pipeline       one-call training: train_default_model, fine_tune_model (any LM, LoRA)
    cli            `python -m llm {data,train,evaluate,table}`

Heavy imports (torch, transformers) happen when those modules are imported, not here.
"""
