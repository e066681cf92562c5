"""Shipped to the engine with spark.addArtifacts(pyfile=True) and imported inside a UDF."""


def shout(s):
    return s.upper() + "!"
