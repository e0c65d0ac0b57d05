/// Where long work (an epoch, the teacher's pass) says how far it got. The library prints nothing itself; the
/// `emovere` tool reports through `EmovereReport.ProgressBar` (rate and ETA on standard error).
public protocol ProgressSink: AnyObject {
    /// `completed` units of the work are done; `metrics` are running figures to show beside them (empty: keep
    /// the previous ones).
    func update(completed: Int, metrics: [(String, Double)])
    /// The work ended; `metrics` are its final figures (empty: keep the previous ones).
    func finish(metrics: [(String, Double)])
}

/// Makes the reporter of one piece of work of `total` units, named `label` (e.g. "epoch 3/80").
public typealias ProgressSinkFactory = (_ total: Int, _ label: String) -> any ProgressSink
