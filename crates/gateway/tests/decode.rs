//! The gateway's decoder never panics, on random bytes or on well-formed messages
//! with random contents, and well-formed messages survive the wire unchanged.

use fateflow_gateway::proto::{decode_any, CommandRequest, MessageHeader, PushChunk};
use proptest::prelude::*;
use prost::Message;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_any(&bytes);
    }

    #[test]
    fn random_headers_decode_and_validate_without_panic(
        session in ".{0,40}", name in ".{0,40}", tag in ".{0,20}",
        src_role in "(guest|host|arbiter|local|[a-z]{0,8})", dst_role in "(guest|host|[a-z]{0,8})",
        src in any::<u64>(), dst in any::<u64>(), size in any::<u64>(),
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let chunk = PushChunk {
            header: Some(MessageHeader { session, name, tag, src_role, src_party_id: src, dst_role, dst_party_id: dst, total_size: size }),
            data,
        };
        let bytes = chunk.encode_to_vec();
        let back = PushChunk::decode(bytes.as_slice()).unwrap();
        prop_assert_eq!(&back, &chunk);
        prop_assert!(decode_any(&bytes));
        if let Ok(key) = back.header.as_ref().unwrap().key() {
            // A key that validates is made of the safe characters only.
            prop_assert!(key.session.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c)));
        }
    }

    #[test]
    fn random_command_json_is_refused_not_panicked(json in ".{0,200}") {
        let req = CommandRequest { job_id: "j".into(), src_role: "guest".into(), src_party_id: 1, dst_role: "host".into(), dst_party_id: 2, command_json: json.into_bytes() };
        let _ = decode_any(&req.encode_to_vec());
        let _ = fateflow_gateway::server::decode_command(&req.command_json);
    }
}

#[test]
fn truncated_and_corrupt_messages_are_errors() {
    let chunk = PushChunk {
        header: Some(MessageHeader {
            session: "s_0".into(),
            name: "n".into(),
            tag: "t".into(),
            src_role: "guest".into(),
            src_party_id: 9999,
            dst_role: "host".into(),
            dst_party_id: 10000,
            total_size: 3,
        }),
        data: vec![1, 2, 3],
    };
    let bytes = chunk.encode_to_vec();
    for cut in 1..bytes.len() {
        let _ = PushChunk::decode(&bytes[..cut]);
    }
    assert!(PushChunk::decode(&[0xff, 0xff, 0xff][..]).is_err());
    let bad_role = MessageHeader {
        src_role: "emperor".into(),
        ..chunk.header.clone().unwrap()
    };
    let e = bad_role.key().unwrap_err().to_string();
    assert!(e.contains("src_role"), "{e}");
    let bad_name = MessageHeader {
        name: "../etc/passwd".into(),
        ..chunk.header.unwrap()
    };
    assert!(bad_name.key().unwrap_err().to_string().contains("name"));
}
