package engine

// Predicates only the tests ask: the frontends map kinds, they do not branch on these.

func IsNotFound(err error) bool { return err != nil && KindOf(err) == KindNotFound }

func IsPermissionDenied(err error) bool { return err != nil && KindOf(err) == KindPermissionDenied }
