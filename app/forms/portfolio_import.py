"""The secretariat's import of opportunities from a file: upload, then confirm the previewed rows."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField
from wtforms.validators import DataRequired


class ImportUploadForm(FlaskForm):
    file = FileField(
        "Fichier à importer",
        validators=[FileRequired("Choisissez un fichier CSV, XLSX ou ODS.")],
        description="CSV (séparateur « ; » ou « , », UTF-8), XLSX ou ODS ; colonnes code, brique, besoin "
        "(les autres colonnes, comme celles de l'export de la liste, sont ignorées).",
    )


class ImportConfirmForm(FlaskForm):
    payload = HiddenField(validators=[DataRequired()])  # the previewed rows, signed by the server
