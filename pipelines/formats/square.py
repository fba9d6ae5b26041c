"""stub"""


def detect(sniff, mapping):
    return False
