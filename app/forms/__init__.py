"""Flask-WTF forms; they validate input, never write to the database."""


def apply_errors(form, errors: dict[str, str], only_clean: bool = False) -> None:
    """Show a service's ValidationFailed messages on the form's fields (unknown names: on the form).

    `only_clean`: skip fields whose own validators already explain what is wrong."""
    for name, message in errors.items():
        field = getattr(form, name, None)
        if only_clean and field is not None and field.errors:
            continue
        if field is not None:
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            form.form_errors.append(message)
