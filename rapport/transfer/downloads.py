"""The files imports and exports hand back, the same for the pages and the API."""

from django.http import FileResponse, StreamingHttpResponse

from rapport.transfer.selectors import failed_rows_csv

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def export_file_response(job) -> FileResponse:
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.file_name,
                        content_type=CONTENT_TYPES[job.format])


def failed_rows_response(job) -> StreamingHttpResponse:
    response = StreamingHttpResponse(failed_rows_csv(job), content_type=CONTENT_TYPES["csv"])
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-failed-rows.csv"'
    return response
