//! A failed export's answer as OTLP/HTTP specifies it: every 4xx and 5xx body is a
//! `google.rpc.Status` (its gRPC code and a message) in the request's encoding, so that an
//! exporter can log why its spans were refused. The HTTP status itself still tells it whether
//! to retry (429, 502, 503 and 504 only).

use prost::Message;

/// `google.rpc.Status` (`google/rpc/status.proto`) without its `details`, which this service
/// never sends: field 1 the gRPC code, field 2 the message.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

impl Status {
    /// The status of an answer with HTTP status `http` and `message`.
    pub fn of_http(http: u16, message: impl Into<String>) -> Status {
        Status {
            code: grpc_code(http),
            message: message.into(),
        }
    }

    /// The protobuf body (`application/x-protobuf`).
    pub fn protobuf(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}

/// The gRPC code of an HTTP status, as gRPC's own HTTP mapping reads it (and one code each
/// for the statuses it leaves open: 405 and 415 are UNIMPLEMENTED, 409 ALREADY_EXISTS for an
/// event id used for another event, 413 RESOURCE_EXHAUSTED as gRPC answers a message over
/// its limit).
pub fn grpc_code(http: u16) -> i32 {
    match http {
        200..=299 => 0,            // OK
        400 => 3,                  // INVALID_ARGUMENT
        401 => 16,                 // UNAUTHENTICATED
        403 => 7,                  // PERMISSION_DENIED
        404 => 5,                  // NOT_FOUND
        405 | 415 => 12,           // UNIMPLEMENTED
        409 => 6,                  // ALREADY_EXISTS
        413 | 429 => 8,            // RESOURCE_EXHAUSTED
        499 => 1,                  // CANCELLED
        500 => 13,                 // INTERNAL
        502..=504 => 14,           // UNAVAILABLE
        _ if http / 100 == 4 => 9, // FAILED_PRECONDITION
        _ => 2,                    // UNKNOWN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_encodes_its_code_as_field_one_and_its_message_as_field_two() {
        let status = Status::of_http(401, "no key");
        // Field 1 varint 16; field 2 length-delimited "no key".
        assert_eq!(
            status.protobuf(),
            [&[0x08, 16, 0x12, 6][..], b"no key"].concat()
        );
        assert_eq!(Status::decode(&status.protobuf()[..]), Ok(status));
    }

    #[test]
    fn retryable_http_statuses_map_to_unavailable_or_resource_exhausted_and_bad_input_to_invalid_argument(
    ) {
        assert_eq!(grpc_code(503), 14);
        assert_eq!(grpc_code(429), 8);
        assert_eq!(grpc_code(400), 3);
        assert_eq!(grpc_code(403), 7);
        assert_eq!(grpc_code(409), 6);
        assert_eq!(grpc_code(500), 13);
    }
}
