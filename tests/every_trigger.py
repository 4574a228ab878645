"""A first line that every rule's trigger matches (test_triggers checks it), so that a test
text starting with it is parsed and every rule runs on it: random programs, hostile files."""

EVERY_TRIGGER = (
    "import keras  # .fit( Model Sequential numpy.zeros( yield Lambda(output_shape= LSTM"
    " stateful=True optimizers, lr= compile softmax from_logits=True categorical_crossentropy"
    " Dense(1 m.fit(;m=m\n"
)
