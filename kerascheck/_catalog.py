# Generated from kerascheck/rules by `python -m kerascheck.docgen`; do not edit.
# Each rule's (code, name, trigger patterns, regex flags): see catalog.py.
RULES = (
    ('KC001', 'model-alias-training', ('\\.\\s*(?:compile|fit|fit_generator|train_on_batch)\\s*\\(', '(?m:^[ \\t]*(?:[A-Za-z_][\\w \\t.:\\[\\]]*=[ \\t]*[A-Za-z_]\\w*[ \\t]*(?:[;#].*)?$|[(\\[]?[ \\t]*\\*?[A-Za-z_][\\w \\t*]*,[\\w \\t,()\\[\\]*]*=[^=]))'), 0),
    ('KC002', 'generator-reused-buffer', ('yield|__getitem__', 'zeros|empty|ones|full|ndarray'), 0),
    ('KC003', 'lambda-drops-dimension', ('Lambda',), 0),
    ('KC004', 'stateful-fit-without-reset', ('stateful',), 0),
    ('KC005', 'stateful-shuffle', ('stateful',), 0),
    ('KC006', 'optimizer-lr-argument', ('optimizers', 'lr(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)*=(?!=)', '[(,](?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)*lr(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)*=(?!=)'), 0),
    ('KC007', 'probabilities-with-from-logits', ('rossentropy', 'compile', 'oftmax|igmoid', '(?:from_logits(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)*=|[(,])(?:(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)|\\()*True\\b', 'Sequential|Model|Functional'), 0),
    ('KC008', 'single-unit-softmax', ('oftmax', 'n(?:(?<=\\bDen)se(?:(?:(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)|\\))*\\((?:(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)|[(+])*(?:0[xXoObB][0_]*)?1(?![\\w.])|(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)+as\\b|(?<!import Dense)(?<!,Dense)(?<!, Dense)(?=[^\\S\\r\\n]*(?:[\\r\\n;#)\\\\]|\\Z)))|(?<=\\bun)its(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)*=(?:(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)|[(+])*(?:0[xXoObB][0_]*)?1(?![\\w.]))'), 0),
    ('KC009', 'categorical-loss-single-unit', ('ategorical_crossentropy|ategoricalCrossentropy', 'compile', 'n(?:(?<=\\bDen)se(?:(?:(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)|\\))*\\((?:(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)|[(+])*(?:0[xXoObB][0_]*)?1(?![\\w.])|(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)+as\\b|(?<!import Dense)(?<!,Dense)(?<!, Dense)(?=[^\\S\\r\\n]*(?:[\\r\\n;#)\\\\]|\\Z)))|(?<=\\bun)its(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)*=(?:(?:\\s|#[^\\r\\n]*[\\r\\n]|\\\\)|[(+])*(?:0[xXoObB][0_]*)?1(?![\\w.]))'), 0),
    ('KC900', 'unanalyzable-file', ('eras',), 0),
)
