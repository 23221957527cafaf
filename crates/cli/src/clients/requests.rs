//! Request bodies, field for field (and in the same order) as FATE's Python `flow`
//! sends them: the wire types of `fateflow_api_types::requests`, shared with the
//! server that reads them.

pub use fateflow_api_types::requests::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::to_string;

    #[test]
    fn bodies_match_fate_client_shapes() {
        let q = JobFilter {
            party: JobParty {
                job_id: Some("202601010000000000000".into()),
                role: Some("guest".into()),
                party_id: Some("9999".into()),
            },
            ..JobFilter::default()
        };
        // Captured from fate-client 1.11.3 (see spec/fate-client-1x-wire.md).
        assert_eq!(
            to_string(&q).unwrap(),
            r#"{"job_id": "202601010000000000000", "role": "guest", "party_id": "9999"}"#
        );
        let rerun = JobRerun {
            job_id: "j".into(),
            force: false,
            component_name: None,
        };
        assert_eq!(
            to_string(&rerun).unwrap(),
            r#"{"job_id": "j", "force": false}"#
        );
        let out = OutputDataDownload {
            component: ComponentRef {
                job_id: "j".into(),
                role: "guest".into(),
                party_id: "9999".into(),
                component_name: "reader_0".into(),
            },
            output_path: "out".into(),
            limit: -1,
        };
        assert_eq!(
            to_string(&out).unwrap(),
            r#"{"job_id": "j", "role": "guest", "party_id": "9999", "component_name": "reader_0", "output_path": "out", "limit": -1}"#
        );
        assert_eq!(to_string(&Empty {}).unwrap(), "{}");
    }
}
