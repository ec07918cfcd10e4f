internal import FoundationEssentials

extension MapReduceJob where Self: Codable {
    /// The job's parameters as JSON with sorted keys: a job that is `Codable` needs no hand-written
    /// ``WireCodable/encode(into:)`` and ``WireCodable/init(decoding:)``, whose field orders must agree.
    ///
    /// Stops the program if the parameters cannot be written as JSON (a `Double` that is not finite):
    /// a job whose parameters cannot reach its workers cannot run.
    public func encode(into writer: inout WireWriter) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            writer.write(try encoder.encode(self))
        } catch {
            preconditionFailure("the parameters of \(Self.self) cannot be written as JSON: \(error)")
        }
    }

    /// Decodes the JSON that ``encode(into:)`` wrote.
    /// - Throws: ``MapReduceError`` when the bytes are not such JSON.
    public init(decoding reader: inout WireReader) throws {
        let bytes = reader.readRemainingBytes()
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(bytes))
        } catch {
            throw MapReduceError(.protocolViolation, "cannot decode the parameters of \(Self.self): \(error)")
        }
    }
}
