//! Unit tests of `model::refresh`: ids, days, FilterPolicy, URL selection and planning.

use super::*;

#[test]
fn days_and_ids() {
    assert_eq!(quota_day(0), "19700101");
    assert_eq!(quota_day(1_489_996_157_000), "20170320");
    let id = new_task_id();
    assert_eq!(id.len(), 16);
    assert!(id.bytes().all(|b| b.is_ascii_digit()));
    assert_ne!(new_task_id(), new_task_id());
    assert_eq!(domain_of("http://a:8090/b/k?x"), "a:8090");
    assert_eq!(domain_of("cdn.example.com/b/"), "cdn.example.com");
}

fn stream(def: &str, format: &str, at: i64, segments: usize) -> MediaStream {
    MediaStream {
        stream_id: crate::ids::hex_id(),
        media_id: "m".into(),
        account_id: "a".into(),
        job_id: format!("j{at}"),
        definition: def.into(),
        format: format.into(),
        stream_type: if format == "mp3" { "audio" } else { "video" }.into(),
        bucket: "b".into(),
        object_key: format!("sv/m/{at}/{def}.{format}"),
        segments: (0..segments).map(|i| format!("sv/m/{at}/{def}-{i:05}.ts")).collect(),
        bitrate: String::new(),
        duration: String::new(),
        fps: String::new(),
        width: 0,
        height: 0,
        size: 0,
        specification: String::new(),
        codec_name: String::new(),
        source_generation: 1,
        created_at: at,
    }
}

#[test]
fn play_urls_follow_the_filter() {
    let media = MediaConfig {
        play_base_url: "http://edge:8090/".into(),
        ..MediaConfig::default()
    };
    // Newest first, as list_streams returns them.
    let streams = vec![
        stream("SD", "mp4", 20, 0),
        stream("LD", "m3u8", 20, 7),
        stream("LD", "mp4", 20, 0),
        stream("LD", "mp4", 10, 0),
        stream("SQ", "mp3", 10, 0),
    ];
    let single = RefreshFilter::default().play_urls(&streams, &media);
    assert_eq!(
        single,
        vec![
            "http://edge:8090/b/sv/m/20/LD.m3u8",
            "http://edge:8090/b/sv/m/20/LD.mp4",
            "http://edge:8090/b/sv/m/20/SD.mp4",
            "http://edge:8090/b/sv/m/10/SQ.mp3",
        ]
    );
    let multiple = RefreshFilter {
        result_type: "Multiple".into(),
        formats: "mp4".into(),
        definitions: "ld".into(),
        ..RefreshFilter::default()
    };
    assert_eq!(
        multiple.play_urls(&streams, &media),
        vec!["http://edge:8090/b/sv/m/20/LD.mp4", "http://edge:8090/b/sv/m/10/LD.mp4"]
    );
    let sliced = RefreshFilter {
        formats: "m3u8".into(),
        slice_flag: true,
        slice_count: 3,
        ..RefreshFilter::default()
    };
    assert_eq!(
        sliced.play_urls(&streams, &media),
        vec![
            "http://edge:8090/b/sv/m/20/LD.m3u8",
            "http://edge:8090/b/sv/m/20/LD-00000.ts",
            "http://edge:8090/b/sv/m/20/LD-00001.ts",
            "http://edge:8090/b/sv/m/20/LD-00002.ts",
        ]
    );
    let audio = RefreshFilter {
        stream_type: "audio".into(),
        ..RefreshFilter::default()
    };
    assert_eq!(
        audio.play_urls(&streams, &media),
        vec!["http://edge:8090/b/sv/m/10/SQ.mp3"]
    );
}

#[test]
fn plans_records_tasks_and_jobs() {
    let req = MediaRefreshRequest {
        job_id: "j".into(),
        account_id: "a".into(),
        task_type: RefreshTaskType::Preload,
        filter: RefreshFilter::default(),
        user_data: String::new(),
        now_ms: 5,
    };
    let (rec, tasks, job) = req.plan(2, "m", "app", &["http://e/b/1".into(), "http://e/b/2".into()]);
    assert_eq!(
        (rec.seq, rec.status, rec.batch_id.clone()),
        (2, MediaRefreshStatus::Processing, job.id.clone())
    );
    assert_eq!(job.payload, json!({"v": 1, "batch_id": rec.batch_id}));
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks
            .iter()
            .all(|t| t.object_type == RefreshObjectType::Preload && t.batch_id == rec.batch_id)
    );
    assert_eq!((tasks[1].seq, tasks[1].domain.as_str()), (1, "e"));
}

#[test]
fn filter_policy_json() {
    let f = RefreshFilter {
        formats: "mp4,m3u8".into(),
        slice_count: 3,
        ..RefreshFilter::default()
    };
    assert_eq!(
        f.to_policy(),
        r#"{"Formats":"mp4,m3u8","ResultType":"Single","SliceFlag":false,"SliceCount":3}"#
    );
    let back: RefreshFilter = serde_json::from_str(&f.to_policy()).unwrap();
    assert_eq!(back, f);
    assert_eq!(RefreshTaskType::parse("preload"), Some(RefreshTaskType::Preload));
    assert_eq!(
        RefreshObjectType::parse("Directory"),
        Some(RefreshObjectType::Directory)
    );
    assert_eq!(RefreshTaskStatus::parse("complete"), Some(RefreshTaskStatus::Complete));
}
