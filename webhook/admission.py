"""The AdmissionReview contract: parse a request, list the images it introduces, build the response.

Pure functions, no web framework; ``webhook.app`` wires them into ``POST /validate``.

    from webhook.admission import (ReviewError, Unsupported, denial_line, images_to_verify, parse_review,
                                   review_response, webhook_denial_message)

    try:
        req = parse_review(body, max_bytes=3 * 1024 * 1024)
    except ReviewError as exc:
        ...                                    # answer HTTP exc.status with exc.message
    images = images_to_verify(req)             # [ContainerImage(field_path, image, container)] or Unsupported
    if isinstance(images, Unsupported):
        doc = review_response(req.uid, allowed=False, message=images.reason)
    else:
        lines = [denial_line(i.field_path, i.image, "prod", "no signature verifies") for i in images]
        doc = review_response(req.uid, allowed=not lines, message=webhook_denial_message(lines))
"""

from ._response import (
    MAX_DENIAL_LINES,
    MAX_MESSAGE_CHARS,
    MAX_WARNING_CHARS,
    MAX_WARNINGS_TOTAL_CHARS,
    denial_line,
    review_response,
    safe_text,
    webhook_denial_message,
)
from ._review import ADMISSION_API_VERSION, OPERATIONS, AdmissionRequest, GroupVersionKind, ReviewError, parse_review
from ._review_images import CONTAINER_LISTS, POD_SPEC_PATHS, ContainerImage, Unsupported, images_to_verify

__all__ = [
    "ADMISSION_API_VERSION",
    "CONTAINER_LISTS",
    "MAX_DENIAL_LINES",
    "MAX_MESSAGE_CHARS",
    "MAX_WARNINGS_TOTAL_CHARS",
    "MAX_WARNING_CHARS",
    "OPERATIONS",
    "POD_SPEC_PATHS",
    "AdmissionRequest",
    "ContainerImage",
    "GroupVersionKind",
    "ReviewError",
    "Unsupported",
    "denial_line",
    "images_to_verify",
    "parse_review",
    "review_response",
    "safe_text",
    "webhook_denial_message",
]
