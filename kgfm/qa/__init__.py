"""Knowledge-enhanced question answering: MetaQA data, k-hop candidates, the answer scorer on top
of the fusion encoder, fine-tuning, evaluation, answers with KG evidence, and int8 export."""
